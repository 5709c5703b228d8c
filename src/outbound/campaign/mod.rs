//! Campaign policy, free of IO: which script variant a contact gets and how variants compare
//! ([`ab`]), and what follows each attempt inside the calling schedule ([`retry`]). The contact
//! list itself is read by [`super::contacts`].

pub mod ab;
pub mod retry;

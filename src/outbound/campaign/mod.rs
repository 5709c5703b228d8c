//! Campaign policy, free of IO: which script variant a contact gets and how variants compare
//! ([`ab`]), what follows each attempt inside the calling schedule ([`retry`]), and what an
//! attempt's end does to its contact ([`settle`]). The contact
//! list itself is read by [`super::contacts`].

pub mod ab;
pub mod kpi;
pub mod retry;
pub mod settle;

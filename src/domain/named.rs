//! Plain enums stored and sent by name: [`named!`] gives one `ALL`, `as_str`, `Display` and
//! `FromStr` (an unknown name is an error naming the type).

/// Implements `as_str`, `Display`, `FromStr` and `ALL` for a plain enum stored by name.
macro_rules! named {
    ($t:ident { $($v:ident = $s:literal),+ $(,)? }) => {
        impl $t {
            pub const ALL: &'static [$t] = &[$($t::$v),+];
            pub fn as_str(self) -> &'static str {
                match self { $($t::$v => $s),+ }
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|x| x.as_str() == s)
                    .ok_or_else(|| format!(concat!("unknown ", stringify!($t), " {:?}"), s))
            }
        }
    };
}

pub(crate) use named;

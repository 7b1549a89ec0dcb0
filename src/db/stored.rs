//! Lifecycle states stored as text: one declaration gives each state its stored name,
//! its parsing back from a row, and its conversion for inserts.

/// A stored value no state of its kind is named: a row written outside quanze, or by a
/// version of it that knew more states. Reading it fails the request (a 500 that names
/// the kind and the value), never the process.
#[derive(Debug)]
pub struct BadStoredValue {
    /// The state's type.
    pub kind: &'static str,
    /// What the row holds.
    pub value: String,
}

impl std::fmt::Display for BadStoredValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a stored {} is {:?}, which names none",
            self.kind, self.value
        )
    }
}

impl std::error::Error for BadStoredValue {}

/// Names the states of a lifecycle enum, as stored and as serialised (serde's
/// `rename_all = "snake_case"` must spell them the same; each use is unit-tested for it).
/// Rows hold the enum with `#[diesel(deserialize_as = String)]` (and `serialize_as`
/// for inserts).
#[macro_export]
macro_rules! stored_states {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every state, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The stored (and serialised) name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }

            /// The state a stored name names.
            pub fn parse(name: &str) -> Option<$ty> {
                match name {
                    $($name => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $crate::db::stored::BadStoredValue;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                $ty::parse(&value).ok_or($crate::db::stored::BadStoredValue {
                    kind: stringify!($ty),
                    value,
                })
            }
        }

        impl From<$ty> for String {
            fn from(state: $ty) -> String {
                state.as_str().to_string()
            }
        }
    };
}

#[cfg(test)]
/// Asserts that serde spells every state of `T` as it is stored.
pub fn assert_serde_names<T: serde::Serialize + std::fmt::Display>(all: &[T]) {
    for state in all {
        assert_eq!(
            serde_json::to_value(state).unwrap(),
            serde_json::Value::String(state.to_string())
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::EditionStatus;
    use crate::claims::{ClaimState, RoundStatus};
    use crate::duties::AdmissionStatus;
    use crate::publication::VersionStatus;

    #[test]
    fn every_state_is_stored_as_serde_spells_it_and_read_back() {
        assert_serde_names(EditionStatus::ALL);
        assert_serde_names(ClaimState::ALL);
        assert_serde_names(RoundStatus::ALL);
        assert_serde_names(AdmissionStatus::ALL);
        assert_serde_names(VersionStatus::ALL);
        assert_serde_names(crate::catalogue::Source::ALL);
        assert_serde_names(crate::catalogue::DelegationMode::ALL);
        assert_serde_names(crate::publication::Stage::ALL);
        assert_serde_names(crate::publication::Decision::ALL);
        assert_serde_names(crate::publication::Severity::ALL);
        for &state in VersionStatus::ALL {
            assert_eq!(VersionStatus::try_from(String::from(state)).unwrap(), state);
        }
    }

    #[test]
    fn a_stored_value_that_names_no_state_is_an_error_naming_it() {
        let error = RoundStatus::try_from("paused".to_string()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "a stored RoundStatus is \"paused\", which names none"
        );
    }
}

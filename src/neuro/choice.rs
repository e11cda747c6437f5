//! Parameters with a fixed set of values (`choices:` in a stage definition): each is an enum
//! that lists its values once ([`Choice::ALL`]) with the identifier pipelines write
//! ([`Choice::id`]); [`choice_serde!`] reads and writes it by that identifier, so parsing, the
//! error listing the valid values and the definition-drift test share one list.

/// An enum whose values pipelines name by identifier.
pub trait Choice: Copy + Sized + 'static {
    /// Every value, in the order the stage definition lists them.
    const ALL: &'static [Self];

    /// The identifier pipelines write.
    fn id(self) -> &'static str;

    /// The value named `text`, if any.
    fn from_id(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.id() == text)
    }

    /// The identifiers, comma-separated, for messages.
    fn valid() -> String {
        Self::ALL
            .iter()
            .map(|c| c.id())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Serialises a [`Choice`] as its identifier and reads it back; an unknown one is an error
/// that lists the valid identifiers.
macro_rules! choice_serde {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($crate::neuro::choice::Choice::id(*self))
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                use $crate::neuro::choice::Choice;
                let text = <String as serde::Deserialize>::deserialize(d)?;
                <$t>::from_id(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "unknown value '{text}' (valid: {})",
                        <$t>::valid()
                    ))
                })
            }
        }
    };
}

pub(crate) use choice_serde;

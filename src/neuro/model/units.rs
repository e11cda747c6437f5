//! The named units of a network that `init.blocks` and `freeze` address (alpha1, alpha2, sa,
//! beta1, beta2, readout and, for the split FCL, centre / surround / combine), their aliases
//! (`alpha`, `beta`), and how frozen units run during training.

use std::collections::BTreeSet;

use super::arch::{ArchError, Architecture, ReadoutKind};

/// A named part of a network that `init` copies and `freeze` fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Unit {
    Alpha1,
    Alpha2,
    Sa,
    Beta1,
    Beta2,
    /// The whole readout (for the split FCL: centre, surround and combiner).
    Readout,
    /// Split FCL only: the centre term.
    Centre,
    /// Split FCL only: the surround term.
    Surround,
    /// Split FCL only: the 2 -> 1 combiner.
    Combine,
}

impl Unit {
    pub fn name(self) -> &'static str {
        match self {
            Unit::Alpha1 => "alpha1",
            Unit::Alpha2 => "alpha2",
            Unit::Sa => "sa",
            Unit::Beta1 => "beta1",
            Unit::Beta2 => "beta2",
            Unit::Readout => "readout",
            Unit::Centre => "centre",
            Unit::Surround => "surround",
            Unit::Combine => "combine",
        }
    }

    /// The prefix of the names of the variables the unit owns.
    pub fn prefix(self) -> &'static str {
        match self {
            Unit::Alpha1 => "alpha1.",
            Unit::Alpha2 => "alpha2.",
            Unit::Sa => "sa.",
            Unit::Beta1 => "beta1.",
            Unit::Beta2 => "beta2.",
            Unit::Readout => "readout.",
            Unit::Centre => "readout.centre.",
            Unit::Surround => "readout.surround.",
            Unit::Combine => "readout.combine.",
        }
    }

    /// Whether the variable `name` belongs to this unit.
    pub fn owns(self, name: &str) -> bool {
        name.starts_with(self.prefix())
    }

    /// Units with batch-norm and dropout (whose train/eval mode freezing can change).
    pub fn has_normalisation(self) -> bool {
        matches!(
            self,
            Unit::Alpha1 | Unit::Alpha2 | Unit::Sa | Unit::Beta1 | Unit::Beta2
        )
    }
}

/// How frozen units run during training (models.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FreezeMode {
    /// Frozen units run in inference mode: fixed batch-norm statistics, no dropout.
    #[default]
    Strict,
    /// The reference's behaviour: frozen units only get no gradient; their batch-norm running
    /// statistics keep updating and their dropout stays active.
    Reference,
}

impl FreezeMode {
    pub fn id(self) -> &'static str {
        match self {
            FreezeMode::Strict => "strict",
            FreezeMode::Reference => "reference",
        }
    }
}

impl crate::neuro::choice::Choice for FreezeMode {
    const ALL: &'static [Self] = &[FreezeMode::Strict, FreezeMode::Reference];

    fn id(self) -> &'static str {
        FreezeMode::id(self)
    }
}

crate::neuro::choice::choice_serde!(FreezeMode);

impl Architecture {
    /// The units of this architecture, in forward order.
    pub fn units(&self) -> Vec<Unit> {
        let mut u = vec![Unit::Alpha1, Unit::Alpha2];
        if self.attention.is_some() {
            u.push(Unit::Sa);
        }
        u.extend([Unit::Beta1, Unit::Beta2, Unit::Readout]);
        if self.readout == ReadoutKind::SplitFcl {
            u.extend([Unit::Centre, Unit::Surround, Unit::Combine]);
        }
        u
    }

    /// The names `init.blocks` and `freeze` accept: every unit, plus `alpha` and `beta` for
    /// both blocks of a kind.
    pub fn unit_names(&self) -> Vec<&'static str> {
        let mut names = vec!["alpha"];
        names.extend(self.units().iter().map(|u| u.name()));
        names.insert(
            names
                .iter()
                .position(|&n| n == "beta1")
                .unwrap_or(names.len()),
            "beta",
        );
        names
    }

    /// Resolves block names (aliases expanded) to units; `field` names the parameter in errors.
    pub fn resolve_units(
        &self,
        names: &[String],
        field: &str,
    ) -> Result<BTreeSet<Unit>, ArchError> {
        let units = self.units();
        let mut out = BTreeSet::new();
        for name in names {
            match name.as_str() {
                "alpha" => out.extend([Unit::Alpha1, Unit::Alpha2]),
                "beta" => out.extend([Unit::Beta1, Unit::Beta2]),
                other => match units.iter().find(|u| u.name() == other) {
                    Some(&u) => {
                        out.insert(u);
                    }
                    None => {
                        return Err(ArchError::UnknownUnit {
                            field: field.to_owned(),
                            found: other.to_owned(),
                            model: self.model.id(),
                            valid: self.unit_names().join(", "),
                        });
                    }
                },
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuro::model::arch::ModelId;

    #[test]
    fn unknown_block_names_list_the_valid_ones() {
        let a = Architecture::new(ModelId::RfSaCnnStar, 50).unwrap();
        let err = a
            .resolve_units(&["alpha".into(), "gamma".into()], "freeze")
            .unwrap_err();
        let msg = err.to_string();
        assert_eq!(
            msg,
            "freeze: unknown block 'gamma' for model rf-sa-cnn-star; valid blocks: alpha, alpha1, alpha2, sa, beta, beta1, beta2, readout"
        );
        let fc1 = Architecture::new(ModelId::FfSaCnnStarFc1, 50).unwrap();
        assert!(fc1.resolve_units(&["centre".into()], "init.blocks").is_ok());
        assert!(a.resolve_units(&["centre".into()], "init.blocks").is_err());
        assert!(
            Architecture::new(ModelId::RfCnn, 50)
                .unwrap()
                .resolve_units(&["sa".into()], "freeze")
                .is_err()
        );
        let both = a
            .resolve_units(&["alpha".into(), "beta2".into()], "freeze")
            .unwrap();
        assert_eq!(
            both.into_iter().collect::<Vec<_>>(),
            vec![Unit::Alpha1, Unit::Alpha2, Unit::Beta2]
        );
    }
}

//! What sapipe needs to know about the `decompose` kind without libtorch: its version and the
//! figures it writes (the report stage shows them). The kind itself (`decompose`) runs in the
//! libtorch worker.

/// Implementation version of `decompose`: bump when its outputs change for the same inputs.
pub const VERSION: u32 = 1;

/// The PNG figures of a decomposition directory, one of each per analysed model: the file name
/// is `<prefix><stage>.png`, with the train stage's name; and what it shows.
pub const FIGURES: [(&str, &str); 3] = [
    (
        "fcl_map_",
        "mean FCL contribution of each hypercolumn (signed, averaged over images and neurons; \
         the framed cell is the centre)",
    ),
    (
        "attention_",
        "attention of the centre hypercolumn, averaged over each neuron's top-k images and over \
         neurons",
    ),
    (
        "centre_vs_surround_",
        "centre vs surround strength per neuron (sd of each contribution over images; below the \
         diagonal: centre-dominated)",
    ),
];

/// What a decomposition figure shows, from its file name (`None` for other files).
pub fn figure_caption(file: &str) -> Option<(&'static str, &str)> {
    let stem = file.strip_suffix(".png")?;
    FIGURES
        .iter()
        .find_map(|(prefix, caption)| Some((*caption, stem.strip_prefix(prefix)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captions_come_from_the_file_name() {
        let (caption, stage) = figure_caption("centre_vs_surround_ff_sa.png").unwrap();
        assert!(caption.starts_with("centre vs surround"));
        assert_eq!(stage, "ff_sa");
        assert_eq!(figure_caption("attention_x.png").unwrap().1, "x");
        assert!(figure_caption("summary.json").is_none());
        assert!(figure_caption("other.png").is_none());
    }
}

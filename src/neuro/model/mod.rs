//! The seven architectures of models.md: architecture specs and parameter counts (`arch`,
//! pure), per-neuron initial values (`init`, pure), and, with the `torch` feature, the
//! population layers (`blocks`, `attention`, `readout`) composed into [`network::Network`].

pub mod arch;
pub mod init;

#[cfg(feature = "torch")]
pub mod attention;
#[cfg(feature = "torch")]
pub mod blocks;
#[cfg(feature = "torch")]
pub mod network;
#[cfg(feature = "torch")]
pub mod readout;

pub use arch::{
    ArchInfo, Architecture, FreezeMode, ModelId, Unit, architectures, incremental_chain,
};
#[cfg(feature = "torch")]
pub use network::{Network, Output, Pass};

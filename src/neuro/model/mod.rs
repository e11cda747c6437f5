//! The seven architectures of models.md: architecture specs (`arch`), named units for init and
//! freeze (`units`), the model table (`table`), per-neuron initial values (`init`) — all pure —
//! and, with the `torch` feature, the population layers (`blocks`, `attention`, `readout`) composed into [`network::Network`].

pub mod arch;
pub mod checkpoint;
pub mod init;
pub mod table;
pub mod units;

#[cfg(feature = "torch")]
pub mod attention;
#[cfg(feature = "torch")]
pub mod blocks;
#[cfg(feature = "torch")]
pub mod forward;
#[cfg(feature = "torch")]
pub mod network;
#[cfg(feature = "torch")]
mod pooling;
#[cfg(feature = "torch")]
pub mod readout;

pub use arch::{Architecture, ModelId};
#[cfg(feature = "torch")]
pub use network::{Network, Output, Pass};
pub use table::{ArchInfo, ChainStep, architectures, incremental_chain};
pub use units::{FreezeMode, Unit};

//! The in-memory exporter.

use std::sync::{Arc, Mutex};

use crate::error::SdkResult;
use crate::resource::Resource;
use crate::trace::{SpanData, SpanExporter};

/// Keeps exported spans in memory. Clones share the same storage, so a test keeps one clone
/// and gives the other to the provider.
#[derive(Clone, Debug, Default)]
pub struct InMemorySpanExporter {
    spans: Arc<Mutex<Vec<SpanData>>>,
    resource: Arc<Mutex<Option<Resource>>>,
}

impl InMemorySpanExporter {
    /// A copy of every span exported so far, in export order.
    pub fn finished_spans(&self) -> Vec<SpanData> {
        self.spans.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Forgets the spans exported so far.
    pub fn reset(&self) {
        if let Ok(mut s) = self.spans.lock() {
            s.clear();
        }
    }

    /// The resource the provider passed to the exporter.
    pub fn resource(&self) -> Option<Resource> {
        self.resource.lock().ok().and_then(|r| r.clone())
    }
}

impl SpanExporter for InMemorySpanExporter {
    fn export(&mut self, batch: &[Box<SpanData>]) -> SdkResult {
        if let Ok(mut s) = self.spans.lock() {
            s.extend(batch.iter().map(|b| SpanData::clone(b)));
        }
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Ok(mut r) = self.resource.lock() {
            *r = Some(resource.clone());
        }
    }
}

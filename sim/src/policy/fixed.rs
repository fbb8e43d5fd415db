//! The fixed-size baseline: the workers a static pool would have, never changed.

use super::{Ctx, Event, Policy};
use crate::cluster::Cluster;
use crate::observe::Observer;

/// The fixed-size baseline: does nothing.
#[derive(Debug, Clone, Copy)]
pub struct Fixed;

impl Policy for Fixed {
    fn step(&mut self, _: i64, _: &mut Cluster, _: &Observer, _: Ctx<'_>) -> Vec<Event> {
        Vec::new()
    }
}

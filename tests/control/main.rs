//! The control-plane CLI through the real `tenantgate` binary, against two real Postgres servers
//! (the control plane, and a second server for dedicated placements):
//! `migrate` (every placement, canary, records, a failing placement, a changed file),
//! `tenant create|list|show|move` (shared -> schema -> dedicated -> shared with the data intact and the
//! gateway following each move; failed moves leave the old placement authoritative),
//! `tenant suspend|reactivate` (the gateway following each change, audited, wrong transitions refused),
//! `audit isolation` (clean, then each deliberate mutation found by the audit and by the matrix).

mod audit;
mod cli;
mod domains;
mod drift;
mod jobs;
mod lifecycle;
mod moves;
mod rollout;

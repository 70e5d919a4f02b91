//! Placeholder on branch `orgs-ui` (the `components/*` workspace glob needs a crate here for the
//! static bundle in `static/`): the `orgs` component itself is built on branch `orgs-api`, whose
//! files replace this one when the branches meet.

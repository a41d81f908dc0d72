"""Actor semantics as pure code shared by every interpreter: actors, refs, paths, mailbox
policies, supervision decisions, stop policies, routers and lifecycle (not yet built)."""

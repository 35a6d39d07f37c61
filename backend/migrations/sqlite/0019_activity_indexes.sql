-- Admin → Activity filters the trail by who, what and on what, newest first.
CREATE INDEX audit_events_by_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_by_action ON audit_events (action, seq);
CREATE INDEX audit_events_by_object ON audit_events (object, seq);

-- The audit log is read by subject (one license's history) and by action, newest first.
CREATE INDEX audit_events_subject ON audit_events (subject, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);

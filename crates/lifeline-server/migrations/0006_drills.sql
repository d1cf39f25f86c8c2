-- Drill reports (`lifeline drill run NAME --report-to URL`), shown on the console's Drills
-- page. report is the whole DrillReport as JSON; name and passed are copied out for filters.
CREATE TABLE drill_reports (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    passed BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    received_from TEXT NOT NULL,
    report TEXT NOT NULL
);
CREATE INDEX drill_reports_by_time ON drill_reports (received_at);

-- A call waiting for its recording has its own status now, instead of "skipped" with the reason
-- "no recording" (which made a skip reason double as a waiting state).
UPDATE calls SET status = 'awaiting_recording', reason = NULL
 WHERE status = 'skipped' AND reason = 'no recording';

-- Dashboard views whose tables a load has changed since the view was last refreshed. A load marks them in its own
-- transaction (from PostgreSQL's count of the rows the transaction changed in each table); refreshing a view clears
-- its mark. A load's own refresh takes only the marked views, so a new model run's predictions do not rebuild the
-- views of results, and a load that changed nothing refreshes nothing; `estudiapp db refresh` refreshes them all.
SET LOCAL search_path TO estudiapp, public;

CREATE TABLE IF NOT EXISTS stale_view (
    view_name  text PRIMARY KEY,
    marked_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE stale_view IS 'Materialized views whose tables changed since their last refresh (load.refresh_views clears them)';

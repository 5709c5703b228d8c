-- Number ranges of the numbering plan registry imported with `callops numbering import`, one
-- compact table per leading digit of the national number; they replace the shipped ranges.
CREATE TABLE numbering_tables (
    leading_digit SMALLINT PRIMARY KEY,
    table_text    TEXT NOT NULL,
    imported_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

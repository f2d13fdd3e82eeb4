-- Unlogged: counts of the current minute are worth no WAL write, and a crash that empties the table only resets them.
CREATE UNLOGGED TABLE "rate_counters" (
	"key" text PRIMARY KEY NOT NULL,
	"window_start" bigint NOT NULL,
	"count" integer NOT NULL
);

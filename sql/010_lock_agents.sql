-- One day's upsert into agents at a time (reads go on): each field's merge reads the stored row first,
-- so two days merging side by side could each miss the other's values.
lock table agents in share row exclusive mode

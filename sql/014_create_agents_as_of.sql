-- agents_as_of(day): the agents table as it stood on ``day``: one row per agent of each account recorded on or
-- before that day (the account is its first column: filter on it), its version in effect then (the row of agent_versions, with that version's valid_from and valid_to).
create or replace function agents_as_of(day date)
returns setof agent_versions
language sql stable
as $$
    select *
    from agent_versions
    where valid_from <= day and (valid_to is null or valid_to > day)
$$;

-- append_events taking the events' data as one JSON array (each element one event's data, kept as its exact
-- text) instead of a text[]: the client then sends the data as written, where a text[] parameter makes it escape
-- every quote of every event (a tenth of a send's allocations). The text[] form stays, for instances of the
-- previous version during a rolling upgrade.
CREATE FUNCTION append_events(p_user_ids uuid[], p_types text[], p_data json, p_message_ids uuid[]) RETURNS bigint[]
LANGUAGE sql AS $$
  SELECT append_events(p_user_ids, p_types, ARRAY(SELECT e.value::text FROM json_array_elements(p_data) WITH ORDINALITY AS e(value, ord) ORDER BY e.ord), p_message_ids)
$$;

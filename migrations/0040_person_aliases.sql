-- Identity merge (issue 18): a distinct id merged into a person by an `$identify` event
-- (distinctId = the known id, properties.$anonDistinctId = the earlier anonymous one).
-- Only merged ids have a row; every other distinct id is a person of its own. `person` is
-- always a root (an id with no row of its own): the workers keep it so when merges chain.
-- Raw-event queries count persons as coalesce(person, distinct_id); rollups count ids.
CREATE TABLE person_aliases (
    project_id   uuid NOT NULL,
    distinct_id  text NOT NULL,
    person       text NOT NULL,
    merged_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, distinct_id)
);
CREATE INDEX person_aliases_person ON person_aliases (project_id, person);

-- Municipal context: a rate per 100,000 people (the seed showed homicides) for each municipality and year.
SET LOCAL search_path TO estudiapp, public;

CREATE TABLE IF NOT EXISTS municipal_context (
    municipality_code  text NOT NULL REFERENCES municipality (code),
    year               integer NOT NULL CHECK (year BETWEEN 2000 AND 2099),
    context_rate       real NOT NULL CONSTRAINT municipal_context_rate_non_negative CHECK (context_rate >= 0),
    PRIMARY KEY (municipality_code, year)
);
COMMENT ON TABLE municipal_context IS 'Context rate per 100,000 people (e.g. homicides) by municipality and year';

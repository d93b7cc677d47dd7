-- Model runs (one per model card) and their predictions: per student and period, the predicted global score with its
-- interval, the probability of a low score, the risk band and the top reasons (as `estudiapp score` writes them).
SET LOCAL search_path TO estudiapp, public;

CREATE TABLE IF NOT EXISTS model_run (
    model_version  text PRIMARY KEY CHECK (model_version <> ''),
    trained_at     timestamptz,
    loaded_at      timestamptz NOT NULL DEFAULT now(),
    model_card     jsonb NOT NULL CHECK (jsonb_typeof(model_card) = 'object')
);
COMMENT ON TABLE model_run IS 'One row per trained model: its version, training time and the whole model card';

CREATE TABLE IF NOT EXISTS prediction (
    model_version          text NOT NULL REFERENCES model_run (model_version) ON DELETE CASCADE,
    estu_consecutivo       text NOT NULL,
    periodo                integer NOT NULL,
    predicted_score        real NOT NULL,
    score_low              real,
    score_high             real,
    low_score_probability  real NOT NULL CONSTRAINT prediction_probability_range CHECK (low_score_probability BETWEEN 0 AND 1),
    risk_band              text NOT NULL CHECK (risk_band <> ''),
    reasons                jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(reasons) = 'array'),
    CONSTRAINT prediction_interval_order CHECK (score_low <= score_high),
    CONSTRAINT prediction_one_per_student_period_and_run PRIMARY KEY (model_version, estu_consecutivo, periodo),
    CONSTRAINT prediction_of_a_known_result FOREIGN KEY (estu_consecutivo, periodo)
        REFERENCES exam_result (estu_consecutivo, periodo) ON DELETE CASCADE
);
COMMENT ON TABLE prediction IS 'Per student, period and model run: predicted global score and interval, P(low score), risk band, top reasons';
COMMENT ON COLUMN prediction.reasons IS 'top reasons: [{feature, value, direction, contribution, text}] as the serving bundle returns them';

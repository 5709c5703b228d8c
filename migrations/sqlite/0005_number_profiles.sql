-- Analysis profile chosen in /settings for one of our numbers (overrides PROFILE_BY_NUMBER).
CREATE TABLE number_profiles (
    number     TEXT PRIMARY KEY,
    profile    TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

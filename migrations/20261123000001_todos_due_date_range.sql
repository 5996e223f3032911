-- Due dates: the domain accepts years 1 to 9999 (`DueDate`), so that every adapter stores
-- every date it accepts. Postgres's `date` reaches 4713 BC to 5874897 AD; without this
-- check a bug or a manual edit could store a date the domain then refuses to read back.
ALTER TABLE todos
    ADD CONSTRAINT todos_due_date_range
    CHECK (due_date BETWEEN DATE '0001-01-01' AND DATE '9999-12-31');

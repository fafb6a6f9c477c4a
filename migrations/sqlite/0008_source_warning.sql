-- A warning about the last document a source served that parsed but deserves attention: it
-- yielded no entries although it has <item>/<entry> elements. Set by each refresh that parses a
-- document (NULL when it deserved none); a 304 or an unchanged body leaves it as it is.
ALTER TABLE sources ADD COLUMN warning TEXT;

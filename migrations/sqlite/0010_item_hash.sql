-- A hash of the item a sighting was last made from, as the source sent it (normalize::item_hash):
-- when the source sends the same item again, it is not normalized again. NULL until the item is
-- next seen.
ALTER TABLE sightings ADD COLUMN item_hash INTEGER;

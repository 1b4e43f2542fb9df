"""Room catalogs as data: the products a room sells, for ProductLinker."""

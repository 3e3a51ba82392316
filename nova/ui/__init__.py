"""``nova ui``: a local web page to see and curate what an agent remembers (search with explain and
provenance, timeline, entities, health, curation). ``nova.ui.app`` has the pages, ``nova.ui.auth``
the token rule, ``nova.ui.views`` the reads, ``nova.ui.svg`` the pictures, ``nova.ui.server`` the process."""

"""The migration history of the apps merged into roleplay (sessions_api, scorecards), kept under
their old labels so that a database created before the merge migrates in place: their last
migrations hand every model over to roleplay (state only, no SQL). They hold no models."""

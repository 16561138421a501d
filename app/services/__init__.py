"""Services: what the API and the scheduler call; they raise domain errors, never HTTP ones."""

"""/api/v1 adapter of notifications: repository and namespace notifications, authorized
e-mail addresses, the user's bell, team-invitation links and password recovery."""

-- A device or a user is one whatever the case it is typed in: `Web-1` and `web-1` cannot both
-- exist. (Access groups and changes have had this since they were made.)
CREATE UNIQUE INDEX devices_name_any_case ON devices (LOWER(name));
CREATE UNIQUE INDEX users_username_any_case ON users (LOWER(username));

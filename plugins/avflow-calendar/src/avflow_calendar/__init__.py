"""avflow-calendar: free slots and bookings in clients' calendars (.ics files, CalDAV).

Written only against avflow's public API, as a third party's plugin would be. See docs/calendar.md.
"""

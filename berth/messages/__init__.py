"""Global messages (Quay's ``/api/v1/messages``): banners a superuser posts for every page."""

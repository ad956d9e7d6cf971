"""The LDAP directory client (``AUTHENTICATION_TYPE: LDAP``): a pure leaf over ldap3.

``berth.directory.ldap.LdapDirectory`` finds users, checks their passwords by binding as them,
tests Quay's filters (superuser, restricted, global read-only) and lists a group's members;
the sign-in logic that turns a directory user into a Berth account is ``berth.auth.ldap``.
"""

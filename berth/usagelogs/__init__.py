"""Reading, charting, exporting and rotating the usage logs (Quay's ``LogEntry``): the
``LogsModel`` store, the service the /api/v1 logs routes call, and the export and rotation
jobs. Entries are written by ``berth.audit`` from each feature's service."""

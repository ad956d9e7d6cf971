"""Import every model module so Base.metadata is complete (for Alembic and tests)."""

from berth.audit import models as audit_models  # noqa: F401
from berth.auth import models as auth_models  # noqa: F401
from berth.builds import models as builds_models  # noqa: F401
from berth.buildtriggers import models as buildtriggers_models  # noqa: F401
from berth.db.base import Base
from berth.gc import models as gc_models  # noqa: F401
from berth.identity import models as identity_models  # noqa: F401
from berth.jobs import models as jobs_models  # noqa: F401
from berth.messages import models as messages_models  # noqa: F401
from berth.mirroring import models as mirroring_models  # noqa: F401
from berth.namespaces import models as namespaces_models  # noqa: F401
from berth.notifications import models as notifications_models  # noqa: F401
from berth.oauth import models as oauth_models  # noqa: F401
from berth.policies import models as policies_models  # noqa: F401
from berth.proxycache import models as proxycache_models  # noqa: F401
from berth.quotas import models as quotas_models  # noqa: F401
from berth.ratelimits import models as ratelimits_models  # noqa: F401
from berth.registry import models as registry_models  # noqa: F401
from berth.repos import models as repos_models  # noqa: F401
from berth.scanner import models as scanner_models  # noqa: F401
from berth.usagelogs import models as usagelogs_models  # noqa: F401

metadata = Base.metadata

import sys

from chat_auth.server import main

sys.exit(main())

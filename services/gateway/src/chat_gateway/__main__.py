import sys

from chat_gateway.server import main

sys.exit(main())

from marathon.cli import main

raise SystemExit(main())

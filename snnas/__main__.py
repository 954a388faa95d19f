from snnas.cli import main

raise SystemExit(main())

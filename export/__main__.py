from .cli import main

# Guarded: the free-generation evaluation starts worker processes, which import this module again.
if __name__ == "__main__":
    raise SystemExit(main())

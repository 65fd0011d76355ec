"""The console's screens: three views switched with 1/2/3, and dialogs pushed over them."""

from .client import *  # as krkn's package does

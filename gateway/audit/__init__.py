"""The accuracy audit: a technician's tally at a door compared with the device's crossings (`storegw audit`)."""

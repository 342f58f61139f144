"""The portal's four services and the small kernel they share."""

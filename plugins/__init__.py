"""Detector and analyzer plugins (model bundles and their pre/post-processing).

Plugins import `contracts` and the model runtimes, never `appliance`.
"""

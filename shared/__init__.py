"""What two or more services of the suite share: settings, logging, db, S3, Celery, model."""

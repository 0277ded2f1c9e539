DELETE FROM event_cursors WHERE consumer = 'notifications';
DROP TABLE notifications;
DROP TABLE notification_prefs;

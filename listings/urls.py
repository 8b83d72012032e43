from django.urls import path

from . import views

app_name = "listings"

urlpatterns = [
    path("", views.browse, name="browse"),
    path("listings/<int:pk>/", views.detail, name="detail"),
    path("listings/<int:pk>/contact/", views.contact, name="contact"),
    path("listings/<int:pk>/edit/", views.edit, name="edit"),
    path("listings/<int:pk>/sold/", views.mark_sold, name="mark_sold"),
    path("listings/<int:pk>/relist/", views.relist, name="relist"),
    path("listings/<int:pk>/delete/", views.delete, name="delete"),
    path("sell/", views.sell, name="sell"),
    path("my/listings/", views.my_listings, name="mine"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<int:pk>/", views.conversation, name="conversation"),
]
